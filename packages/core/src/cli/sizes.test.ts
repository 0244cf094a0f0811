import { describe, expect, it } from 'vitest';
import { UsageError } from './args.js';
import { parseSize } from './sizes.js';

describe('parseSize', () => {
  it('reads decimal and binary units, any case, and plain bytes', () => {
    expect(parseSize('2GB', '--memory')).toBe(2_000_000_000);
    expect(parseSize('2 gb', '--memory')).toBe(2_000_000_000);
    expect(parseSize('512MiB', '--memory')).toBe(512 * 1024 ** 2);
    expect(parseSize('1.5GiB', '--memory')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('4kB', '--memory')).toBe(4000);
    expect(parseSize('1073741824', '--memory')).toBe(1024 ** 3);
    expect(parseSize('1TB', '--memory')).toBe(1e12);
  });

  it('refuses what is not a size, naming the option', () => {
    for (const bad of ['', 'abc', '2G', '-1GB', '0', '0.5', '2 GB extra', '1e9'])
      expect(() => parseSize(bad, '--memory'), bad).toThrow(UsageError);
    expect(() => parseSize('lots', '--memory')).toThrow(/--memory takes a size such as 2GB, 512MiB/);
  });
});
