// privacy.connections: which store holds which datasets of the data map.
import { z } from "zod";
import { storeTypes } from "../types.ts";

const schemes: Record<(typeof storeTypes)[number], readonly string[]> = {
  postgres: ["postgres:", "postgresql:"],
  mysql: ["mysql:", "mariadb:"],
  redis: ["redis:", "rediss:"],
  mongodb: ["mongodb:", "mongodb+srv:"],
  elasticsearch: ["http:", "https:"],
};

/** One store connection; the URL's scheme must fit its type. */
export const connectionConfigSchema = z
  .object({
    type: z.enum(storeTypes),
    url: z.string().min(1),
    datasets: z.array(z.string().min(1)).min(1),
    options: z.record(z.string(), z.string()).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    let protocol: string;
    try {
      protocol = new URL(c.url).protocol;
    } catch {
      // never echo the URL: it may hold a password
      ctx.addIssue({ code: "custom", path: ["url"], message: "not a URL" });
      return;
    }
    if (!schemes[c.type].includes(protocol))
      ctx.addIssue({
        code: "custom",
        path: ["url"],
        message: `a ${c.type} connection needs a ${schemes[c.type].join(" or ")} URL, not ${protocol}`,
      });
  });

/** privacy.connections: name → connection; a dataset may sit behind one connection only. */
export const dsrConnectionsConfigSchema = z
  .record(z.string().min(1), connectionConfigSchema)
  .default({})
  .superRefine((conns, ctx) => {
    const owner = new Map<string, string>();
    for (const [name, c] of Object.entries(conns))
      for (const d of c.datasets) {
        const prev = owner.get(d);
        if (prev && prev !== name)
          ctx.addIssue({
            code: "custom",
            path: [name, "datasets"],
            message: `dataset '${d}' is already served by connection '${prev}'`,
          });
        owner.set(d, name);
      }
  });

export type DsrConnectionsConfig = z.infer<typeof dsrConnectionsConfigSchema>;
