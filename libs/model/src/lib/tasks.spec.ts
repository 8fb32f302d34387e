import { expectedAge, outputToAge, resolveTask, targetOf, trueAgeOf } from './tasks';

describe('tasks', () => {
  it('single-year classification defaults to ages 20..50 (31 classes)', () => {
    const task = resolveTask({ kind: 'classification' });
    expect(task.labels).toHaveLength(31);
    expect(task.representativeAges[0]).toBe(20);
    expect(targetOf(task, { age: 20 })).toBe(0);
    expect(targetOf(task, { age: 50 })).toBe(30);
    expect(targetOf(task, { age: 51 })).toBeUndefined();
    expect(targetOf(task, { ageGroup: 'YOUNG' })).toBeUndefined();
  });

  it('age groups from configurable edges, open last band', () => {
    const task = resolveTask({ kind: 'age-groups', edges: [0, 25, 50, 75, 100] });
    expect(task.labels).toEqual(['0-24', '25-49', '50-74', '75-99', '100+']);
    expect(task.representativeAges).toEqual([12, 37, 62, 87, 112.5]);
    expect([0, 24, 25, 49, 50, 99, 100, 116].map((age) => targetOf(task, { age }))).toEqual([0, 0, 1, 1, 2, 3, 4, 4]);
  });

  it('age groups from an age_group label', () => {
    const task = resolveTask({ kind: 'age-group-labels', labels: ['YOUNG', 'MIDDLE', 'OLD'], representativeAges: [20, 40, 65] });
    expect(targetOf(task, { ageGroup: 'MIDDLE' })).toBe(1);
    expect(targetOf(task, { ageGroup: 'CHILD' })).toBeUndefined();
    expect(trueAgeOf(task, { ageGroup: 'OLD' })).toBe(65);
    expect(trueAgeOf(resolveTask({ kind: 'age-group-labels', labels: ['A', 'B'] }), { ageGroup: 'A' })).toBeNaN();
  });

  it('expected age is the probability-weighted representative age', () => {
    const task = resolveTask({ kind: 'classification', minAge: 20, maxAge: 22 });
    expect(expectedAge(task, [0.5, 0.25, 0.25])).toBeCloseTo(20.75, 12);
    expect(expectedAge(task, [0, 0, 1])).toBe(22);
  });

  it('regression standardises ages with the training mean and std', () => {
    const task = resolveTask({ kind: 'regression', minAge: 0, maxAge: 100 }, [20, 30, 40]);
    expect(task.targetScale?.mean).toBe(30);
    const t = targetOf(task, { age: 40 }) as number;
    expect(t).toBeCloseTo(10 / Math.sqrt(200 / 3), 12);
    expect(outputToAge(task, t)).toBeCloseTo(40, 10);
  });
});
