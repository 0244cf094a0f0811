/** Size arithmetic shared by the nodes that resize. */

/**
 * The [height, width] a `width`/`height` param pair asks for, where 0 means "keep": both 0 keeps the
 * source size, one 0 scales that side to keep the aspect ratio.
 */
export function requestedSize(srcHeight: number, srcWidth: number, width: number, height: number): [number, number] {
  if (width > 0 && height > 0) return [height, width];
  if (width > 0) return [Math.max(1, Math.round((srcHeight * width) / srcWidth)), width];
  if (height > 0) return [height, Math.max(1, Math.round((srcWidth * height) / srcHeight))];
  return [srcHeight, srcWidth];
}
