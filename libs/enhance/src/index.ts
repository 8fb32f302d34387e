// Public API of @agekit/enhance: corrections on PixelImages, SSIM, and the quality-guarded choice.
export * from './lib/operations';
export * from './lib/ssim';
export * from './lib/guard';
export * from './lib/choose';
export * from './lib/config';
export { luminance, withLuminance, mapLuminance } from './lib/planes';
export { gaussianKernel, convolveSeparable, equalizeLut, gammaLut, bilateralFilter, laplacianSharpen, addDetail } from './lib/filters';
