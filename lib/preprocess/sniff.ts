/** Image formats the pool accepts (the jpg, png, webp), recognized by their magic bytes. */
export type ImageFormat = 'png' | 'jpeg' | 'webp';

export function sniffFormat(bytes: Buffer): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return undefined;
}

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA. */
  colorType: number;
  /** Chunks that make sharp transform pixels (ICC profile, EXIF orientation, transparency key). */
  transforming: boolean;
}

const TRANSFORMING_CHUNKS = new Set(['iCCP', 'eXIf', 'tRNS', 'gAMA', 'cHRM']);

/** Reads IHDR and the chunk names before the image data, without inflating anything. */
export function readPngHeader(bytes: Buffer): PngHeader | undefined {
  if (bytes.length < 33 || bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  const header: PngHeader = { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20), bitDepth: bytes[24], colorType: bytes[25], transforming: false };
  for (let pos = 8; pos + 8 <= bytes.length; ) {
    const length = bytes.readUInt32BE(pos);
    const type = bytes.toString('latin1', pos + 4, pos + 8);
    if (type === 'IDAT') break;
    if (TRANSFORMING_CHUNKS.has(type)) header.transforming = true;
    pos += 12 + length;
  }
  return header;
}

/** Whether the file ends before its format's end marker (PNG IEND, JPEG EOI, or the RIFF length WebP declares). */
export function endsEarly(format: ImageFormat, bytes: Buffer): boolean {
  const tail = bytes.subarray(Math.max(0, bytes.length - 16));
  if (format === 'png') return !tail.includes('IEND', 0, 'latin1');
  if (format === 'jpeg') return !tail.includes(Buffer.from([0xff, 0xd9]));
  return bytes.readUInt32LE(4) + 8 > bytes.length;
}
