/** The floor workflow's activities: no-ops, except that `invite` tells the benchmark's driver, as a mail would. */
export function createFloorActivities(invited: (id: number) => void) {
  return {
    async load(id: number): Promise<number> {
      return id;
    },
    async prepare(id: number): Promise<number> {
      return id;
    },
    async invite(id: number): Promise<void> {
      invited(id);
    },
    async record(id: number, by: number): Promise<string> {
      return `${id}:${by}`;
    },
    async confirm(id: number): Promise<void> {
      void id;
    },
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;
