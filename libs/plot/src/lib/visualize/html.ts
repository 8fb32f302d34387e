export interface HtmlFigure {
  /** Relative to index.html. */
  file: string;
  caption: string;
}

export interface HtmlSection {
  title: string;
  intro?: string;
  figures: HtmlFigure[];
}

function esc(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** A self-contained page showing every figure with its one-line caption (no scripts, no external assets). */
export function renderIndexHtml(title: string, summary: string[], sections: HtmlSection[]): string {
  const body = sections
    .filter((s) => s.figures.length > 0)
    .map(
      (s) => `<section>
<h2>${esc(s.title)}</h2>
${s.intro ? `<p>${esc(s.intro)}</p>\n` : ''}<div class="grid">
${s.figures
  .map(
    (f) => `<figure><a href="${esc(encodeURI(f.file))}"><img src="${esc(encodeURI(f.file))}" alt="${esc(f.caption)}" loading="lazy"></a><figcaption>${esc(f.caption)}</figcaption></figure>`,
  )
  .join('\n')}
</div>
</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
body { font-family: 'DejaVu Sans', Arial, sans-serif; margin: 2em; color: #222; background: #fafafa; }
h1 { margin-bottom: 0.2em; }
ul.summary { color: #444; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 1.5em; }
figure { margin: 0; background: #fff; border: 1px solid #ddd; padding: 0.6em; }
figure img { width: 100%; height: auto; display: block; }
figcaption { margin-top: 0.4em; font-size: 0.95em; }
</style>
</head>
<body>
<h1>${esc(title)}</h1>
<ul class="summary">
${summary.map((l) => `<li>${esc(l)}</li>`).join('\n')}
</ul>
${body}
</body>
</html>
`;
}
