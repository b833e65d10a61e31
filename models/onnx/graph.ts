/** A small, deterministic ONNX graph builder over onnx-proto: named nodes, initializers and typed I/O. */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
export type DataType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';
const TYPE: Record<DataType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
  bool: onnx.TensorProto.DataType.BOOL,
};
/** float16 data is passed as its bit patterns (Uint16Array). */
type TensorData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;
export type AttrValue = number | number[] | string | { float: number };
export type Dim = number | string;

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  /** Bytes of initializer data, by name prefix-free total; reported in the manifest. */
  initializerBytes = 0;

  input(name: string, type: DataType, dims: Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), type, dims));
    return name;
  }

  /** Declares a graph output; without `dims` its shape is left to inference. */
  output(name: string, type: DataType, dims?: Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  initializer(name: string, type: DataType, dims: number[], data: TensorData): string {
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name: this.claim(name), dataType: TYPE[type], dims, rawData: raw });
    this.initializerBytes += raw.byteLength;
    return name;
  }

  /** Constant scalars and small vectors, deduplicated by value so repeated shapes share one initializer. */
  int64s(values: number[], scalar = false): string {
    const name = `const_i64_${scalar ? 's' : 'v'}_${values.join('_').replace(/-/g, 'm')}`;
    if (!this.used.has(name)) this.initializer(name, 'int64', scalar ? [] : [values.length], BigInt64Array.from(values.map(BigInt)));
    return name;
  }

  float(value: number): string {
    const name = `const_f32_${String(value).replace(/[-.+]/g, '_')}`;
    if (!this.used.has(name)) this.initializer(name, 'float32', [], Float32Array.of(value));
    return name;
  }

  /**
   * Adds a node; `outputs` are names, or a count for generated names. Empty strings stand for omitted
   * optional inputs/outputs, as ONNX specifies. Returns the output names.
   */
  node(op: string, name: string, inputs: string[], outputs: string[] | number, attrs: Record<string, AttrValue> = {}, domain = ''): string[] {
    const nodeName = this.claim(name);
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => `${nodeName}/out${i}`) : outputs;
    for (const o of outs) if (o) this.claim(o);
    this.nodes.push({
      opType: op,
      name: nodeName,
      domain,
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** Single-output convenience form of `node`. */
  op(op: string, name: string, inputs: string[], attrs: Record<string, AttrValue> = {}, domain = ''): string {
    return this.node(op, name, inputs, 1, attrs, domain)[0]!;
  }

  encode(graphName: string, producerVersion: string, opsets: Record<string, number>): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'browser-slm-models',
      producerVersion,
      opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`duplicate ONNX name ${name}`);
    this.used.add(name);
    return name;
  }
}

function valueInfo(name: string, type: DataType, dims?: Dim[]): onnxProto.onnx.IValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType: { elemType: TYPE[type], ...(shape && { shape }) } } };
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  return { name, type: T.FLOAT, f: v.float };
}
