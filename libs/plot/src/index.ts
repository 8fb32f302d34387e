// Public API of @agekit/plot: plain data in, PNG buffers out; visualizeDataset draws the figures of the stage CSVs.
export { computeHistogram, quantile, type HistogramBinOptions, type HistogramBins } from './lib/histogram-bins';
export { DEFAULT_WIDTH, DEFAULT_HEIGHT, PALETTE, plotFontFamily } from './lib/canvas';
export { THRESHOLD_COLOR, REGION_COLOR, type ThresholdLine, type FlaggedRegion } from './lib/annotations';
export {
  renderHistogram,
  histogramSeriesBins,
  renderBarChart,
  renderGroupedBarChart,
  renderLineChart,
  type ChartBaseOptions,
  type HistogramOptions,
  type HistogramSeries,
  type BarChartOptions,
  type GroupedBarChartOptions,
  type LineChartOptions,
  type LineSeries,
} from './lib/charts';
export { renderConfusionMatrix, rowNormalize, heatColor, type ConfusionMatrixOptions } from './lib/confusion-matrix';
export {
  renderContactSheet,
  renderContactSheetDetailed,
  type ContactSheetItem,
  type ContactSheetOptions,
  type ContactSheetResult,
} from './lib/contact-sheet';
export { annotateImage, annotationScale, ANNOTATION_COLORS, type FaceAnnotation, type AnnotateOptions, type AnnotateImage } from './lib/annotate';
export {
  OTHER_STAGE_FIGURES,
  VISUALIZATIONS_DIR,
  visualizeDataset,
  type VisualizeDatasetOptions,
  type VisualizeDatasetResult,
  type VisualizeDatasetStart,
  type VisualizeFigure,
} from './lib/visualize/visualize-dataset';
export { DRAWN_THRESHOLDS } from './lib/visualize/figures';
