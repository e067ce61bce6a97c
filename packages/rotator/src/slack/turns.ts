/**
 * Starts Slack requests one per event-loop turn, in the order asked.
 *
 * Starting a request is synchronous work (building it, `fetch` setting up the connection, part of it
 * in the microtasks that follow): about a millisecond each on a busy machine. When a process holds
 * the locks of hundreds of chains at once (a storm: every installation due together), their
 * requests are asked for in one burst of microtasks, and started back to back they would hold the
 * event loop for the whole burst. The same process's other callers wait that out: the ones woken
 * because a peer process stored their chain's new pair, whose wake-up is a socket message the loop
 * cannot read until the burst ends. Here each request starts in a turn of its own (`setImmediate`;
 * the loop polls for I/O between two turns), so a burst costs its own requests a turn each rather
 * than stalling everyone else, and a lone request starts one turn later.
 *
 * One queue per process: it shares out the one event loop, whichever rotator asks.
 */

type Start = () => void;

const queue: (Start | undefined)[] = [];
let head = 0;
let scheduled = false;

function runTurn(): void {
  scheduled = false;
  const start = queue[head];
  queue[head++] = undefined;
  start?.();
  if (head === queue.length) {
    queue.length = 0;
    head = 0;
    return;
  }
  if (head >= 1024 && head * 2 >= queue.length) {
    queue.splice(0, head);
    head = 0;
  }
  scheduled = true;
  setImmediate(runTurn);
}

/**
 * Runs `start` in a coming turn of the event loop, after the starts asked for before it, and
 * settles with what it returns (or throws). `start` should do the synchronous part of starting a
 * request and return its promise.
 */
export function inTurn<T>(start: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    queue.push(() => {
      try {
        start().then(resolve, reject);
      } catch (error) {
        reject(error);
      }
    });
    if (!scheduled) {
      scheduled = true;
      setImmediate(runTurn);
    }
  });
}
