/** Workflows and CPU activities (listing, embedding, retrieval, reports). */
export const CPU_QUEUE = 'sept-cpu';
/** Trainer hand-off: runs on machines with GPUs. */
export const GPU_QUEUE = 'sept-gpu';
