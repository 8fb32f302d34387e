import { faceLabel } from './analyze';

describe('faceLabel', () => {
  it('expected age with the most probable class', () => {
    expect(faceLabel({ expectedAge: 34.4, top: [{ label: '30-39', probability: 0.624 }], group: '30-39' })).toBe('34 y (30-39 62%)');
  });
  it('regression: the age only', () => {
    expect(faceLabel({ expectedAge: 41.6, top: [], group: null })).toBe('42 y');
  });
  it('groups without ages: the group and its probability', () => {
    expect(faceLabel({ expectedAge: null, top: [{ label: 'MIDDLE', probability: 0.7 }], group: 'MIDDLE' })).toBe('MIDDLE 70%');
    expect(faceLabel({ expectedAge: null, top: [], group: 'OLD' })).toBe('OLD');
  });
});
