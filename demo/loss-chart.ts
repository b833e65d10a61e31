/**
 * The Teach panel's live loss chart: train and held-out loss against the step, drawn as two SVG
 * polylines whose points are the values received, with a text description of the same values for
 * screen readers (and tests): the chart shows what the training reported, nothing interpolated.
 */
export interface LossPoint {
  step: number;
  loss: number;
}

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 320;
const HEIGHT = 120;
const PAD = 4;

const describe = (name: string, points: LossPoint[]): string => {
  if (!points.length) return `${name}: none yet`;
  const first = points[0]!;
  const last = points.at(-1)!;
  return points.length === 1
    ? `${name} ${first.loss.toFixed(3)} at step ${first.step}`
    : `${name} ${first.loss.toFixed(3)} at step ${first.step} → ${last.loss.toFixed(3)} at step ${last.step}`;
};

export class LossChart {
  private readonly train: SVGPolylineElement;
  private readonly heldOut: SVGPolylineElement;
  private readonly desc: SVGDescElement;
  private readonly legend: HTMLElement;

  /** `svg` is the chart (role img, named Loss); `legend` shows its description as text. */
  constructor(svg: SVGSVGElement, legend: HTMLElement) {
    svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    this.desc = document.createElementNS(SVG, 'desc');
    const line = (kind: string): SVGPolylineElement => {
      const el = document.createElementNS(SVG, 'polyline');
      el.classList.add(kind);
      el.setAttribute('vector-effect', 'non-scaling-stroke');
      return el;
    };
    this.train = line('train');
    this.heldOut = line('held-out');
    svg.replaceChildren(this.desc, this.train, this.heldOut);
    this.legend = legend;
    this.draw([], [], 1);
  }

  /** Redraws both curves on a common scale: x from step 0 to `steps`, y from 0 to the highest loss. */
  draw(train: LossPoint[], heldOut: LossPoint[], steps: number): void {
    const top = Math.max(...train.map((p) => p.loss), ...heldOut.map((p) => p.loss), 1e-9);
    const at = (p: LossPoint): string =>
      `${(PAD + ((WIDTH - 2 * PAD) * p.step) / Math.max(steps, 1)).toFixed(1)},${(HEIGHT - PAD - ((HEIGHT - 2 * PAD) * p.loss) / top).toFixed(1)}`;
    this.train.setAttribute('points', train.map(at).join(' '));
    this.heldOut.setAttribute('points', heldOut.map(at).join(' '));
    this.desc.textContent = `${describe('Train loss', train)}; ${describe('held-out loss', heldOut)}.`;
    // The visible legend also says which line is which.
    this.legend.textContent = `━ ${describe('train', train)} · ╍ ${describe('held-out', heldOut)}`;
  }
}
