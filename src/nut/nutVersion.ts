/**
 * The NUT version the agent runs against, as a small value type. Pure: parsing and comparing only; what a version
 * can do is decided in nutCapabilities.ts, nowhere else.
 */

/** At most four numeric parts: git builds report `2.8.3.2451-2451-g6e4d2f0a7` (the 2451st commit after 2.8.3). */
const NUMBERS = String.raw`(\d{1,6}(?:\.\d{1,9}){1,3})`;

// Most specific first: `upsd -V` prints "Network UPS Tools upsd 2.8.0"; VER adds " - http://…"; a bare version
// (with a Debian revision such as "2.8.1-5+deb13u1") is accepted only when it starts the text.
const PATTERNS = [
  new RegExp(String.raw`\bupsd\s+v?${NUMBERS}`, 'i'),
  new RegExp(String.raw`Network UPS Tools\b[^\d\n]{0,80}${NUMBERS}`, 'i'),
  new RegExp(String.raw`^\s*v?${NUMBERS}`),
];

export class NutVersion {
  /** Numeric parts as given (2.8.0 → [2, 8, 0]); missing parts compare as 0. */
  readonly parts: readonly number[];

  private constructor(parts: readonly number[]) {
    this.parts = parts;
  }

  /** Finds the version in `upsd -V` or VER output, or in a bare version string; undefined when there is none. */
  static parse(text: string): NutVersion | undefined {
    for (const pattern of PATTERNS) {
      const match = pattern.exec(text)?.[1];
      if (match) return new NutVersion(match.split('.').map(Number));
    }
    return undefined;
  }

  /** For constants in code: throws on a string that is not a version. */
  static of(text: string): NutVersion {
    const version = NutVersion.parse(text);
    if (!version) throw new Error(`not a NUT version: ${JSON.stringify(text)}`);
    return version;
  }

  /** Negative, zero or positive, like a sort comparator. */
  compare(other: NutVersion | string): number {
    const that = typeof other === 'string' ? NutVersion.of(other) : other;
    const length = Math.max(this.parts.length, that.parts.length);
    for (let i = 0; i < length; i++) {
      const diff = (this.parts[i] ?? 0) - (that.parts[i] ?? 0);
      if (diff !== 0) return Math.sign(diff);
    }
    return 0;
  }

  atLeast(other: NutVersion | string): boolean {
    return this.compare(other) >= 0;
  }

  toString(): string {
    return this.parts.join('.');
  }
}
