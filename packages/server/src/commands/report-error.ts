/**
 * How a failed command reports: one line `slack-rotator: <message>` and a documented exit code;
 * `--verbose` adds the causes and stacks. Anything that looks like a token or a URL's password is
 * masked first, whatever produced the message.
 */
import { isRotatorError } from 'slack-rotator';
import { EXIT, exitCodeOf, type ServerError, toServerError } from '../errors.js';

const TOKENISH = /\b(xox[a-z]-[A-Za-z0-9.-]+|xoxe[.-][A-Za-z0-9.-]+|srk_[A-Za-z0-9_-]+)/g;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]+@/gi;

/** Masks token-shaped words and URL passwords. */
export function redact(text: string): string {
  return text.replace(TOKENISH, '[redacted]').replace(URL_PASSWORD, '$1[redacted]@');
}

function isInvalidArgument(error: unknown): error is TypeError & { code: string } {
  return error instanceof TypeError && /^ERR_INVALID_ARG_/.test(String((error as { code?: unknown }).code));
}

/** The message of one line: the server's message, the library's code and message, or a plain error's. */
export function oneLine(mapped: ServerError, original: unknown): string {
  let text: string;
  if (isRotatorError(original)) text = `${original.code}: ${original.message}`;
  else if (isInvalidArgument(original)) text = original.message;
  else if (mapped.code === 'internal_error' && original instanceof Error)
    text = `internal error: ${original.message}`;
  else text = mapped.message;
  return redact(
    text
      .replace(/\[slack-rotator\]\s*/g, '')
      .split('\n')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .join('; ')
      .replace(/:;/g, ':'),
  );
}

/** The exit code and the text to print on stderr for a failure. */
export function describeFailure(error: unknown, verbose: boolean): { exitCode: number; text: string } {
  const mapped = toServerError(error);
  const exitCode = isInvalidArgument(error) ? EXIT.usage : exitCodeOf(mapped);
  let text = `slack-rotator: ${oneLine(mapped, error)}\n`;
  if (verbose) {
    let current: unknown = error;
    for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
      const stack = current instanceof Error ? (current.stack ?? String(current)) : String(current);
      text += `${depth === 0 ? '' : 'caused by: '}${redact(stack)}\n`;
      current = (current as { cause?: unknown }).cause;
    }
  }
  return { exitCode, text };
}
