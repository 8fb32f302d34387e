/** "31-33, 40" for whole-number labels, else the labels joined with ', '. */
function describeLabels(labels: readonly string[]): string {
  if (!labels.every((l) => /^\d+$/.test(l))) return labels.join(', ');
  const ages = labels.map(Number).sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < ages.length; ) {
    let j = i;
    while (j + 1 < ages.length && ages[j + 1] === ages[j] + 1) j++;
    parts.push(j > i ? `${ages[i]}-${ages[j]}` : String(ages[i]));
    i = j + 1;
  }
  return parts.join(', ');
}

/** A target that asks for classes (ages) the data has no image of. */
export class MissingClassesError extends Error {
  override readonly name = 'MissingClassesError';
  constructor(
    /** The class labels (ages or bins) the target wants but the data lacks. */
    readonly labels: string[],
    detail?: string,
  ) {
    super(
      detail ??
        `the target asks for ${labels.length === 1 ? 'age' : 'ages'} ${describeLabels(labels)} but the data has no image of ${labels.length === 1 ? 'it' : 'them'}; ` +
          'narrow the age range, merge ages into bins, or choose another target',
    );
  }
}

/** A distribution (file, CSV or options) that cannot be used. */
export class DistributionError extends Error {
  override readonly name = 'DistributionError';
  constructor(
    /** Where the distribution came from (a file name or a description). */
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
  }
}
