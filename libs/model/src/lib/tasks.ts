/** What the model learns from a record's age or age-group label. */
export type TaskSpec =
  | {
      /** One class per year of age in [minAge, maxAge] (default 20..50 -> 31 classes); other ages are left out. */
      kind: 'classification';
      minAge?: number;
      maxAge?: number;
    }
  | {
      /**
       * Age bands from the numeric age. `edges` are the lower bounds, ascending: [0, 25, 50, 75, 100] gives
       * 0-24, 25-49, 50-74, 75-99, 100+. Ages below edges[0] are left out.
       */
      kind: 'age-groups';
      edges?: number[];
      /** Representative age of each band (default: its midpoint; an open last band: lower bound + half the previous width). */
      representativeAges?: number[];
    }
  | {
      /** Classes from a record's `ageGroup` label (e.g. YOUNG/MIDDLE/OLD from a labels CSV), in this order. */
      kind: 'age-group-labels';
      labels: string[];
      /** Representative age of each label (needed for MAE / expected age; absent -> those figures are not reported). */
      representativeAges?: number[];
    }
  | {
      /** Direct age regression (one linear output, trained on standardised ages). */
      kind: 'regression';
      minAge?: number;
      maxAge?: number;
    };

export type TaskKind = TaskSpec['kind'];

/** A resolved task: the label list and what each class stands for. */
export interface Task {
  kind: TaskKind;
  /** Class labels (empty for regression). */
  labels: string[];
  /** Each class's representative age, in years (NaN when unknown). Empty for regression. */
  representativeAges: number[];
  /** Band definitions for 'age-groups' (inclusive bounds; max = Infinity for an open band). */
  bands?: { label: string; min: number; max: number }[];
  /** Ages kept (classification/regression); records outside are left out. */
  ageRange?: { min: number; max: number };
  /** Regression only: the output is (age - mean) / std. */
  targetScale?: { mean: number; std: number };
}

export const DEFAULT_AGE_EDGES = [0, 25, 50, 75, 100];

export function isClassification(task: Pick<Task, 'kind'>): boolean {
  return task.kind !== 'regression';
}

/** Resolve a spec into labels and representative ages. `trainAges` (regression) sets the output scale. */
export function resolveTask(spec: TaskSpec, trainAges: number[] = []): Task {
  switch (spec.kind) {
    case 'classification': {
      const min = spec.minAge ?? 20;
      const max = spec.maxAge ?? 50;
      if (!(Number.isInteger(min) && Number.isInteger(max) && max > min)) throw new Error(`classification: need integer minAge < maxAge (got ${min}..${max})`);
      const ages = Array.from({ length: max - min + 1 }, (_, i) => min + i);
      return { kind: 'classification', labels: ages.map(String), representativeAges: ages, ageRange: { min, max } };
    }
    case 'age-groups': {
      const edges = spec.edges ?? DEFAULT_AGE_EDGES;
      if (edges.length < 2 || edges.some((e, i) => i > 0 && !(e > edges[i - 1]))) throw new Error(`age-groups: edges must be ascending, at least two (got ${JSON.stringify(edges)})`);
      const bands = edges.map((lo, i) => {
        const next = edges[i + 1];
        return next === undefined
          ? { label: `${lo}+`, min: lo, max: Infinity }
          : { label: `${lo}-${next - 1}`, min: lo, max: next - 1 };
      });
      const reps =
        spec.representativeAges ??
        bands.map((b, i) => (Number.isFinite(b.max) ? (b.min + b.max) / 2 : b.min + (edges[i] - edges[i - 1]) / 2));
      if (reps.length !== bands.length) throw new Error(`age-groups: ${bands.length} bands but ${reps.length} representative ages`);
      return { kind: 'age-groups', labels: bands.map((b) => b.label), representativeAges: reps, bands };
    }
    case 'age-group-labels': {
      if (spec.labels.length < 2) throw new Error('age-group-labels: need at least two labels');
      const reps = spec.representativeAges ?? spec.labels.map(() => NaN);
      if (reps.length !== spec.labels.length) throw new Error(`age-group-labels: ${spec.labels.length} labels but ${reps.length} representative ages`);
      return { kind: 'age-group-labels', labels: [...spec.labels], representativeAges: reps };
    }
    case 'regression': {
      const min = spec.minAge ?? 0;
      const max = spec.maxAge ?? 120;
      const kept = trainAges.filter((a) => a >= min && a <= max);
      const mean = kept.length ? kept.reduce((s, a) => s + a, 0) / kept.length : (min + max) / 2;
      const variance = kept.length ? kept.reduce((s, a) => s + (a - mean) ** 2, 0) / kept.length : ((max - min) / 4) ** 2;
      return { kind: 'regression', labels: [], representativeAges: [], ageRange: { min, max }, targetScale: { mean, std: Math.sqrt(variance) || 1 } };
    }
  }
}

export interface LabelledItem {
  age?: number;
  ageGroup?: string;
}

/**
 * The training target of an item: a class index for classification tasks, the standardised age for regression,
 * or undefined when the item falls outside the task (no usable label or out of range).
 */
export function targetOf(task: Task, item: LabelledItem): number | undefined {
  const age = item.age;
  switch (task.kind) {
    case 'classification': {
      if (age === undefined || !task.ageRange) return undefined;
      const a = Math.round(age);
      return a >= task.ageRange.min && a <= task.ageRange.max ? a - task.ageRange.min : undefined;
    }
    case 'age-groups': {
      if (age === undefined || !task.bands) return undefined;
      const i = task.bands.findIndex((b) => age >= b.min && (age <= b.max || (age < b.max + 1 && Number.isFinite(b.max))));
      return i >= 0 ? i : undefined;
    }
    case 'age-group-labels': {
      if (item.ageGroup === undefined) return undefined;
      const i = task.labels.indexOf(item.ageGroup);
      return i >= 0 ? i : undefined;
    }
    case 'regression': {
      if (age === undefined || !task.ageRange || !task.targetScale) return undefined;
      if (age < task.ageRange.min || age > task.ageRange.max) return undefined;
      return ageToOutput(task, age);
    }
  }
}

/** The age an item stands for in MAE: its age if known, else its class's representative age (NaN if none). */
export function trueAgeOf(task: Task, item: LabelledItem): number {
  if (item.age !== undefined) return item.age;
  const target = targetOf(task, item);
  return target === undefined || task.kind === 'regression' ? NaN : task.representativeAges[target];
}

/** Expected age: the probability-weighted mean of the classes' representative ages. */
export function expectedAge(task: Task, probabilities: ArrayLike<number>): number {
  let sum = 0;
  let mass = 0;
  for (let k = 0; k < task.representativeAges.length; k++) {
    sum += probabilities[k] * task.representativeAges[k];
    mass += probabilities[k];
  }
  return mass > 0 ? sum / mass : NaN;
}

/** Regression output (standardised) -> years. */
export function outputToAge(task: Task, output: number): number {
  const s = task.targetScale ?? { mean: 0, std: 1 };
  return output * s.std + s.mean;
}

/** Years -> regression output (standardised): the inverse of outputToAge. */
export function ageToOutput(task: Task, age: number): number {
  const s = task.targetScale ?? { mean: 0, std: 1 };
  return (age - s.mean) / s.std;
}
