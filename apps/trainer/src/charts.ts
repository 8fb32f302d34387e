import { renderConfusionMatrix, renderLineChart } from '@agekit/plot';
import type { TrainChart, TrainChartInput } from '@agekit/model';

/** The run's charts (loss, validation MAE, AUC when known, confusion matrix), drawn with @agekit/plot for `trainModel`. */
export async function drawTrainingCharts({ history, validation, labels }: TrainChartInput): Promise<TrainChart[]> {
  const x = history.map((h) => h.epoch);
  const charts: [string, Promise<Buffer>][] = [
    [
      'loss.png',
      renderLineChart({ title: 'Loss', xLabel: 'epoch', yLabel: 'loss', x, series: [{ name: 'train', values: history.map((h) => h.trainLoss) }, { name: 'validation', values: history.map((h) => h.val.loss) }], markBest: 'min' }),
    ],
    ['mae.png', renderLineChart({ title: 'Validation MAE (years)', xLabel: 'epoch', yLabel: 'MAE', x, series: [{ name: 'validation', values: history.map((h) => h.val.mae) }], markBest: 'min' })],
  ];
  if (history.some((h) => h.val.auc !== null)) {
    charts.push(['auc.png', renderLineChart({ title: 'Validation macro AUC', xLabel: 'epoch', yLabel: 'AUC', x, series: [{ name: 'validation', values: history.map((h) => h.val.auc) }], markBest: 'max' })]);
  }
  if (validation.confusion.length) charts.push(['confusion.png', renderConfusionMatrix({ title: 'Validation confusion matrix', labels, matrix: validation.confusion })]);
  return Promise.all(charts.map(async ([file, png]) => ({ file, data: await png })));
}
