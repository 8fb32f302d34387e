import * as tf from '@tensorflow/tfjs';

/**
 * Fine-tuning the last blocks of a backbone on cached activations. The backbone is cut after a layer: the part before
 * the cut (the trunk) stays frozen and runs once per image (its activations are cached); the part after it plus the
 * head form the model that trains. The trainable model is built from the backbone's and the head's own layer objects,
 * so training updates their weights in place and `composeTransferModel` exports the fine-tuned weights as they are.
 */

/** Where face-api's TinyXception can be cut: train everything from this block on. */
export type FineTuneFrom = 'exit_flow' | 'middle_flow/main_block_1';
export const FINE_TUNE_POINTS: readonly FineTuneFrom[] = ['exit_flow', 'middle_flow/main_block_1'];

/** Name of the backbone layer whose output feeds the first fine-tuned block. */
export function fineTuneCutLayer(from: FineTuneFrom, prefix = 'faceapi'): string {
  if (from === 'exit_flow') return `${prefix}_middle_flow_main_block_1_add`;
  if (from === 'middle_flow/main_block_1') return `${prefix}_middle_flow_main_block_0_add`;
  throw new Error(`unknown fine-tuning point '${String(from)}' (known: ${FINE_TUNE_POINTS.join(', ')})`);
}

type GraphNode = { inputTensors: tf.SymbolicTensor[]; outputTensors: tf.SymbolicTensor[] };
type NodeLayer = tf.layers.Layer & { inboundNodes: GraphNode[] };

/** The node a layer got when its model was built (later re-applications add more nodes; this one is the model's). */
function firstNode(layer: tf.layers.Layer): GraphNode {
  const node = (layer as NodeLayer).inboundNodes[0];
  if (!node) throw new Error(`layer '${layer.name}' is not connected`);
  return node;
}

/** The frozen part: the backbone's input to the output of `cutLayer` (layers shared with the backbone). */
export function trunkModel(backbone: tf.LayersModel, cutLayer: string): tf.LayersModel {
  const cut = backbone.getLayer(cutLayer);
  const output = firstNode(cut).outputTensors[0];
  return tf.model({ inputs: backbone.inputs, outputs: output, name: `${backbone.name}_trunk` });
}

/**
 * Re-apply `model`'s layers that lie downstream of `from` to `replacement` (a new symbolic tensor of the same shape),
 * in the model's topological order, and return the new output. Layers not fed (directly or not) by `from` must not
 * be needed by the output.
 */
function reapply(model: tf.LayersModel, from: tf.SymbolicTensor, replacement: tf.SymbolicTensor): tf.SymbolicTensor {
  const mapped = new Map<number, tf.SymbolicTensor>([[from.id, replacement]]);
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const node = firstNode(layer);
    const inputs = node.inputTensors.map((t) => mapped.get(t.id));
    if (inputs.some((t) => t === undefined)) {
      if (inputs.some((t) => t !== undefined)) throw new Error(`layer '${layer.name}' mixes inputs from before and after the cut`);
      continue;
    }
    const out = layer.apply(inputs.length === 1 ? (inputs[0] as tf.SymbolicTensor) : (inputs as tf.SymbolicTensor[])) as tf.SymbolicTensor;
    mapped.set(node.outputTensors[0].id, out);
  }
  const result = mapped.get(model.outputs[0].id);
  if (!result) throw new Error(`the output of '${model.name}' does not depend on the cut`);
  return result;
}

/**
 * The model fine-tuning trains: input = the activation at `cutLayer` (one image: its shape without the batch), then the
 * backbone's layers after the cut, then `head` (built by `buildHead` on the backbone's pooled features). Every layer
 * is shared with `backbone` and `head`.
 */
export function buildFineTuneModel(backbone: tf.LayersModel, head: tf.LayersModel, cutLayer: string): tf.LayersModel {
  const cutOutput = firstNode(backbone.getLayer(cutLayer)).outputTensors[0];
  const input = tf.input({ shape: cutOutput.shape.slice(1) as number[], name: 'finetune_input' });
  const features = reapply(backbone, cutOutput, input);
  const output = reapply(head, head.inputs[0], features);
  return tf.model({ inputs: input, outputs: output, name: 'finetune' });
}

/** Parameters `buildFineTuneModel` trains that belong to the backbone (the rest are the head's). */
export function fineTunedBackboneParameters(model: tf.LayersModel, head: tf.LayersModel): number {
  const headLayers = new Set(head.layers.map((l) => l.name));
  return model.layers.filter((l) => !headLayers.has(l.name)).reduce((sum, l) => sum + l.countParams(), 0);
}
