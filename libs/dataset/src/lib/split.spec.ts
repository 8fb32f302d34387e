import { holdOutMatcher, splitGrouped } from './split';

interface Item {
  id: string;
  group: string;
  age: number;
}

function items(): Item[] {
  const out: Item[] = [];
  let n = 0;
  for (let age = 20; age < 30; age++) {
    for (let g = 0; g < 40; g++) {
      const size = 1 + (g % 3); // groups of 1-3 items (a source and its copies)
      for (let k = 0; k < size; k++) out.push({ id: `i${n++}`, group: `${age}-g${g}`, age });
    }
  }
  return out;
}

const opts = { seed: 7, groupOf: (i: Item) => i.group, stratumOf: (i: Item) => String(i.age) };

describe('splitGrouped', () => {
  it('never puts one group in two splits', () => {
    const s = splitGrouped(items(), opts);
    const where = new Map<string, string>();
    for (const name of ['train', 'val', 'test'] as const) {
      for (const item of s[name]) {
        const seen = where.get(item.group);
        expect(seen === undefined || seen === name).toBe(true);
        where.set(item.group, name);
      }
    }
    expect(s.train.length + s.val.length + s.test.length).toBe(items().length);
  });

  it('stratifies: each age is split close to 70/15/15', () => {
    const s = splitGrouped(items(), opts);
    for (let age = 20; age < 30; age++) {
      const n = (name: 'train' | 'val' | 'test') => s[name].filter((i) => i.age === age).length;
      const total = n('train') + n('val') + n('test');
      expect(Math.abs(n('train') / total - 0.7)).toBeLessThan(0.05);
      expect(Math.abs(n('val') / total - 0.15)).toBeLessThan(0.05);
    }
  });

  it('is deterministic for a seed, independent of input order, and changes with the seed', () => {
    const ids = (s: ReturnType<typeof splitGrouped<Item>>) => s.val.map((i) => i.id).sort();
    const a = splitGrouped(items(), opts);
    const b = splitGrouped(items().reverse(), opts);
    const c = splitGrouped(items(), { ...opts, seed: 8 });
    expect(ids(a)).toEqual(ids(b));
    expect(ids(a)).not.toEqual(ids(c));
  });

  it('rejects bad ratios', () => {
    expect(() => splitGrouped(items(), { ...opts, ratios: { train: -1, val: 1, test: 1 } })).toThrow(/ratios/);
  });

  it('holds out every group with a held-out member, whole, and never deals it to train/val/test', () => {
    const all = items();
    // every fifth group has one member of the held-out population (as a copy of an Asian face in a group of others)
    const heldOutOf = (i: Item): boolean => Number(i.group.split('-g')[1]) % 5 === 0 && i.id === all.find((x) => x.group === i.group)?.id;
    const s = splitGrouped(all, { ...opts, heldOutOf });
    const heldGroups = new Set(all.filter(heldOutOf).map((i) => i.group));
    expect(heldGroups.size).toBe(80);
    expect(new Set(s.heldout.map((i) => i.group))).toEqual(heldGroups);
    expect(s.heldout).toHaveLength(all.filter((i) => heldGroups.has(i.group)).length);
    for (const name of ['train', 'val', 'test'] as const) expect(s[name].filter((i) => heldGroups.has(i.group))).toEqual([]);
    expect(s.train.length + s.val.length + s.test.length + s.heldout.length).toBe(all.length);
    // without a hold-out the set is empty
    expect(splitGrouped(all, opts).heldout).toEqual([]);
  });

  it('holdOutMatcher matches a record by an extra field (records without it never)', () => {
    const asian = holdOutMatcher({ field: 'race', values: ['2'] });
    const records: { extra?: Record<string, string> }[] = [{ extra: { race: '2' } }, { extra: { race: '0' } }, { extra: {} }, {}];
    expect(records.map(asian)).toEqual([true, false, false, false]);
  });
});
