/** Each panel shows its own errors: an action clears its panel's error when it starts and shows its own failure. */
import { SlmError } from '../src/index.ts';

export function errorText(err: unknown): string {
  if (err instanceof SlmError) return `${err.name} (${err.code}): ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export class Panel {
  private readonly alert: HTMLElement;

  constructor(readonly section: HTMLElement) {
    this.alert = section.querySelector<HTMLElement>('[role="alert"]')!;
  }

  static byHeading(headingId: string): Panel {
    return new Panel(document.getElementById(headingId)!.closest('section')!);
  }

  clearError(): void {
    this.alert.hidden = true;
    this.alert.textContent = '';
  }

  showError(err: unknown): void {
    this.alert.textContent = errorText(err);
    this.alert.hidden = false;
  }

  /** One action of this panel: its button is disabled while it runs, the old error goes, a failure is shown here. */
  async run(button: HTMLButtonElement | null, action: () => Promise<void>): Promise<void> {
    this.clearError();
    if (button) button.disabled = true;
    try {
      await action();
    } catch (err) {
      this.showError(err);
    } finally {
      if (button) button.disabled = false;
    }
  }
}

/** A number field that is empty or outside its min/max/step: the form says which and why, nothing runs. */
export function readNumber(input: HTMLInputElement, name: string): number {
  const whole = input.step !== 'any';
  const range = [input.min && `≥ ${input.min}`, input.max && `≤ ${input.max}`].filter(Boolean).join(' and ');
  const ok = input.value !== '' && input.validity.valid && Number.isFinite(input.valueAsNumber);
  input.setAttribute('aria-invalid', String(!ok));
  if (!ok) throw new Error(`${name} must be ${whole ? 'a whole number' : 'a number'}${range ? ` ${range}` : ''}; got ${JSON.stringify(input.value)}`);
  return input.valueAsNumber;
}

export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;

/** Saves the JSON `text` as a file named `filename`, the way a download link would. */
export function downloadJson(filename: string, text: string): void {
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(new Blob([text], { type: 'application/json' })), download: filename });
  a.click();
  URL.revokeObjectURL(a.href);
}
