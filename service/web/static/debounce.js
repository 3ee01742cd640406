// Run a function once input has settled: each call restarts the wait; only the last call's
// arguments are used. The timer functions are parameters so that tests can drive time.

export function debounce(fn, ms, timers = globalThis) {
  let handle = null;
  const debounced = (...args) => {
    if (handle !== null) timers.clearTimeout(handle);
    handle = timers.setTimeout(() => {
      handle = null;
      fn(...args);
    }, ms);
  };
  debounced.cancel = () => {
    if (handle !== null) timers.clearTimeout(handle);
    handle = null;
  };
  return debounced;
}

/** Wraps an async function so that only the latest call's result is delivered: an earlier
 * call still running is aborted (its AbortSignal fires) and its result dropped. */
export function latestOnly(fn) {
  let controller = null;
  return async (...args) => {
    if (controller) controller.abort();
    const mine = new AbortController();
    controller = mine;
    try {
      const result = await fn(...args, mine.signal);
      return mine === controller ? { result, stale: false } : { stale: true };
    } catch (err) {
      if (mine !== controller || err?.name === "AbortError") return { stale: true };
      throw err;
    } finally {
      if (mine === controller) controller = null;
    }
  };
}
