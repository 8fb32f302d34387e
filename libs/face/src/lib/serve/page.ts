/**
 * The age server's page: one self-contained HTML document (no external assets). Pick or drop a photo; it is
 * POSTed as raw bytes to /api/predict and drawn on a canvas with a box and a label per face, plus a list of faces.
 * The body gets data-state="idle|busy|done|error" so tests and scripts can wait on it.
 */
export function renderPage(limits: { maxBodyBytes: number }): string {
  return PAGE_TEMPLATE.replace('__MAX_BODY_BYTES__', String(Math.floor(limits.maxBodyBytes)));
}

const PAGE_TEMPLATE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>agekit — age of every face in a photo</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1000px; padding: 1rem; color: #222; }
  h1 { font-size: 1.3rem; }
  #drop { border: 2px dashed #888; border-radius: 8px; padding: 1.5rem; text-align: center; margin: 1rem 0; }
  #drop.over { border-color: #0a7; background: #effff6; }
  #status { min-height: 1.4em; }
  body[data-state="error"] #status { color: #b00; }
  canvas { max-width: 100%; height: auto; display: block; margin: 1rem 0; background: #f4f4f4; }
  #faces li { margin: .2rem 0; }
</style>
</head>
<body data-state="idle">
<h1>agekit: the age of every face in a photo</h1>
<div id="drop">
  <p>Drop a photo here, or <label>choose one: <input type="file" id="file" accept="image/jpeg,image/png,image/webp"></label></p>
  <label><input type="checkbox" id="detect" checked> find faces (untick when the photo already is one face crop)</label>
</div>
<p id="status" role="status">JPEG, PNG or WebP. The photo is analysed by this server and not stored.</p>
<canvas id="canvas" width="0" height="0"></canvas>
<ol id="faces"></ol>
<script>
(function () {
  'use strict';
  var fileInput = document.getElementById('file');
  var detect = document.getElementById('detect');
  var drop = document.getElementById('drop');
  var statusLine = document.getElementById('status');
  var canvas = document.getElementById('canvas');
  var list = document.getElementById('faces');
  var COLOUR = '#00e676';
  var MAX_BYTES = __MAX_BODY_BYTES__;

  function setState(state, text) {
    document.body.setAttribute('data-state', state);
    statusLine.textContent = text;
  }

  function loadBitmap(file) {
    if (window.createImageBitmap) return createImageBitmap(file, { imageOrientation: 'from-image' });
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = function () { reject(new Error('the browser cannot show this image')); };
      img.src = URL.createObjectURL(file);
    });
  }

  function draw(bitmap, result) {
    canvas.width = result.width;
    canvas.height = result.height;
    var ctx = canvas.getContext('2d');
    ctx.drawImage(bitmap, 0, 0, result.width, result.height);
    var side = Math.min(result.width, result.height);
    var line = Math.max(3, Math.round(side / 250));
    var fontSize = Math.max(14, Math.round(side / 35));
    ctx.font = 'bold ' + fontSize + 'px sans-serif';
    ctx.textBaseline = 'top';
    result.faces.forEach(function (face, i) {
      var b = face.box;
      ctx.lineWidth = line;
      ctx.strokeStyle = COLOUR;
      ctx.strokeRect(b.x, b.y, b.width, b.height);
      var text = (i + 1) + ': ' + face.label;
      var w = ctx.measureText(text).width + 8;
      var h = fontSize + 6;
      var y = b.y - line / 2 - h >= 0 ? b.y - line / 2 - h : b.y + b.height + line / 2;
      ctx.fillStyle = 'rgba(0,0,0,0.75)';
      ctx.fillRect(b.x - line / 2, y, w, h);
      ctx.fillStyle = '#ffffff';
      ctx.fillText(text, b.x - line / 2 + 4, y + 3);
    });
  }

  function describe(face, i) {
    var parts = ['Face ' + (i + 1) + ': ' + face.label];
    if (face.expectedAge !== null) parts.push('expected age ' + face.expectedAge.toFixed(1));
    if (face.group !== null) parts.push('group ' + face.group);
    if (face.top && face.top.length) parts.push('top: ' + face.top.map(function (t) { return t.label + ' ' + Math.round(t.probability * 100) + '%'; }).join(', '));
    if (face.score !== null) parts.push('detector score ' + face.score.toFixed(2));
    return parts.join(' · ');
  }

  async function analyse(file) {
    list.textContent = '';
    if (file.size > MAX_BYTES) {
      setState('error', file.name + ' is ' + (file.size / 1048576).toFixed(1) + ' MB; this server accepts up to ' + (MAX_BYTES / 1048576).toFixed(1) + ' MB.');
      return;
    }
    setState('busy', 'Analysing ' + file.name + ' …');
    var response, body;
    try {
      response = await fetch('/api/predict' + (detect.checked ? '' : '?detect=0'), { method: 'POST', body: file });
      body = await response.json();
    } catch (e) {
      setState('error', 'The request failed: ' + e.message);
      return;
    }
    if (!response.ok) {
      setState('error', 'Error ' + response.status + ': ' + (body && body.error ? body.error.message : 'unknown'));
      return;
    }
    try {
      draw(await loadBitmap(file), body);
    } catch (e) {
      setState('error', 'Cannot draw the photo: ' + e.message);
      return;
    }
    body.faces.forEach(function (face, i) {
      var li = document.createElement('li');
      li.className = 'face';
      if (face.expectedAge !== null) li.setAttribute('data-age', String(face.expectedAge));
      li.setAttribute('data-box', JSON.stringify(face.box));
      li.textContent = describe(face, i);
      list.appendChild(li);
    });
    var n = body.faces.length;
    setState('done', n === 0 ? 'No face found in ' + file.name + '.' : n + (n === 1 ? ' face' : ' faces') + ' in ' + file.name + ' (' + body.width + 'x' + body.height + ').');
  }

  fileInput.addEventListener('change', function () {
    if (fileInput.files && fileInput.files[0]) analyse(fileInput.files[0]);
  });
  ['dragenter', 'dragover'].forEach(function (type) {
    drop.addEventListener(type, function (e) { e.preventDefault(); drop.classList.add('over'); });
  });
  ['dragleave', 'drop'].forEach(function (type) {
    drop.addEventListener(type, function (e) { e.preventDefault(); drop.classList.remove('over'); });
  });
  drop.addEventListener('drop', function (e) {
    var file = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (file) analyse(file);
  });
})();
</script>
</body>
</html>
`;
