import { uniformDistribution } from './distribution';
import { countByLabel, planResampling } from './plan';
import { applyPlan } from './select';
import { formatTransform } from './augment';

interface Item {
  id: string;
  age: number;
}

function items(counts: Record<number, number>): Item[] {
  const out: Item[] = [];
  for (const [age, n] of Object.entries(counts)) for (let i = 0; i < n; i++) out.push({ id: `${age}/img_${i}.jpg`, age: Number(age) });
  return out;
}

const labelOf = (i: Item): string => String(i.age);
const idOf = (i: Item): string => i.id;

describe('applyPlan', () => {
  const data = items({ 20: 40, 21: 10, 22: 4 });
  const plan = planResampling(countByLabel(data, labelOf), { kind: 'distribution', distribution: uniformDistribution({ minAge: 20, maxAge: 22 }) });

  it('reaches every target count: a random subset down, all originals plus evenly spread copies up', () => {
    const out = applyPlan(data, plan, { seed: 1, labelOf, idOf });
    expect(out).toHaveLength(54);
    const byLabel = countByLabel(out, (o) => o.label);
    expect(plan.rows.map((r) => byLabel.get(r.label))).toEqual(plan.rows.map((r) => r.targetCount));
    const down = out.filter((o) => o.label === '20');
    expect(down.every((o) => o.copy === 0 && !o.augmentation)).toBe(true);
    expect(new Set(down.map((o) => o.source.id)).size).toBe(18);
    const up = out.filter((o) => o.label === '22');
    expect(up.filter((o) => o.copy === 0)).toHaveLength(4);
    const perSource = countByLabel(up, (o) => o.source.id);
    // 18 = 4 originals + 14 copies: every source 4 or 5 times in all
    expect([...perSource.values()].sort()).toEqual([4, 4, 5, 5]);
    expect(up.filter((o) => o.copy > 0).every((o) => o.augmentation !== undefined)).toBe(true);
    expect(new Set(up.map((o) => `${o.source.id}#${o.copy}`)).size).toBe(18);
  });

  it('same seed -> same selection and parameters whatever the input order; another seed -> another selection', () => {
    const key = (seed: number, input: Item[]): string[] =>
      applyPlan(input, plan, { seed, labelOf, idOf }).map((o) => `${o.source.id}|${o.copy}|${o.augmentation ? formatTransform(o.augmentation) : ''}`);
    const a = key(5, data);
    expect(key(5, [...data].reverse())).toEqual(a);
    const b = key(6, data);
    expect(b).not.toEqual(a);
    const chosen = (k: string[]): string[] => k.filter((s) => s.startsWith('20/')).sort();
    expect(chosen(b)).not.toEqual(chosen(a));
  });

  it('rejects items that do not match the plan', () => {
    expect(() => applyPlan(data.slice(1), plan, { seed: 1, labelOf, idOf })).toThrow(/class 20 has 40 images but 39 were given/);
  });
});
