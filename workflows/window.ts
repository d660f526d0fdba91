/** Runs `work` over `items` with at most `size` running at once (lanes taking the next item); fails on the first failure. */
export async function inWindow<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, lane));
}
