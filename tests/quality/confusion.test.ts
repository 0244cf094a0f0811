import { describe, expect, it } from 'vitest';
import { confusion, confusionMarkdown } from './confusion.js';

describe('confusion', () => {
  const outcomes = [
    { asked: 'left', got: 'left' },
    { asked: 'left', got: 'right' },
    { asked: 'left', got: 'right' },
    { asked: 'up', got: null },
    { asked: 'still', got: 'still' },
  ];

  it('counts what each asked value became, in vocabulary order, skipping values never asked', () => {
    const rows = confusion(outcomes, ['left', 'right', 'up', 'still']);
    expect(rows.map((r) => r.asked)).toEqual(['left', 'up', 'still']);
    expect(rows[0]).toEqual({ asked: 'left', n: 3, correct: 1, got: { left: 1, right: 2 } });
    expect(rows[1]).toEqual({ asked: 'up', n: 1, correct: 0, got: { none: 1 } });
    expect(rows[2]!.correct).toBe(1);
  });

  it('renders most frequent outcomes first', () => {
    const md = confusionMarkdown('motion', confusion(outcomes, ['left', 'up', 'still']));
    expect(md[0]).toBe('| motion asked | clips | right | what the clips showed |');
    expect(md[2]).toBe('| left | 3 | 33% | right 2 · left 1 |');
    expect(md[3]).toBe('| up | 1 | 0% | none 1 |');
    expect(confusionMarkdown('motion', [])).toEqual([]);
  });
});
