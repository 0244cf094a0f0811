// gifenc ships no types; only what Kinegraph uses is declared. Its package has a CommonJS `main` and an
// ESM `module`: Node's ESM loader gives the CJS exports object as the default export, while bundlers and
// Vite use the ESM build (named exports, default = GIFEncoder). `media/gifenc-lib.ts` accepts both.
declare module 'gifenc' {
  /** [r, g, b] or [r, g, b, a] palette entries. */
  export type GifPalette = number[][];

  export interface GifFrameOptions {
    palette?: GifPalette;
    /** Frame delay in milliseconds (stored in hundredths of a second). */
    delay?: number;
    /** -1: play once, 0: loop forever, n: loop n extra times. */
    repeat?: number;
    transparent?: boolean;
    transparentIndex?: number;
    dispose?: number;
  }

  export interface GifEncoderInstance {
    writeFrame(index: Uint8Array, width: number, height: number, options?: GifFrameOptions): void;
    finish(): void;
    bytes(): Uint8Array;
  }

  export interface Gifenc {
    GIFEncoder(options?: { auto?: boolean; initialCapacity?: number }): GifEncoderInstance;
    quantize(
      rgba: Uint8Array | Uint8ClampedArray,
      maxColors: number,
      options?: { format?: 'rgb565' | 'rgb444' | 'rgba4444'; oneBitAlpha?: boolean | number },
    ): GifPalette;
    applyPalette(
      rgba: Uint8Array | Uint8ClampedArray,
      palette: GifPalette,
      format?: 'rgb565' | 'rgb444' | 'rgba4444',
    ): Uint8Array;
  }

  const gifenc: Gifenc | Gifenc['GIFEncoder'];
  export default gifenc;
  export const GIFEncoder: Gifenc['GIFEncoder'] | undefined;
}
