import { describe, expect, it } from 'vitest';
import { operatorSetHeapFlags } from '../../../src/runtime/heap-growth.js';

describe('operatorSetHeapFlags (the CLI never overrides an operator\'s heap flags)', () => {
  it('finds heap sizing flags on the command line, with dashes or underscores', () => {
    expect(operatorSetHeapFlags(['--heap-growing-percent=20'], undefined)).toBe(true);
    expect(operatorSetHeapFlags(['--max_old_space_size=4096'], undefined)).toBe(true);
    expect(operatorSetHeapFlags(['--max-heap-size', '300'], undefined)).toBe(true);
  });

  it('finds them in NODE_OPTIONS', () => {
    expect(operatorSetHeapFlags([], '--enable-source-maps --max-old-space-size=2048')).toBe(true);
  });

  it('leaves other flags alone', () => {
    expect(operatorSetHeapFlags(['--enable-source-maps', '--max-semi-space-size=8'], '--trace-warnings')).toBe(false);
    expect(operatorSetHeapFlags([], undefined)).toBe(false);
    expect(operatorSetHeapFlags([], '')).toBe(false);
  });
});
