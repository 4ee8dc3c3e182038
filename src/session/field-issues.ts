import type { z } from "zod";
import { formatJsonPath, type JsonPath } from "./json-data.js";

/** One thing wrong with an input, at a dotted path such as `llm.temperature`. */
export interface FieldIssue {
  field: string;
  message: string;
}

/**
 * Zod's issues as fields. An unknown key is reported at the key itself (`llm.temprature`), not
 * at the object that holds it, so the field names what to fix. `root` names the input itself.
 */
export function fieldIssues(error: z.ZodError, root: string, prefix: JsonPath = []): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path.map((part) => (typeof part === "symbol" ? String(part) : part))];
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        field: formatJsonPath([...path, key]),
        message: "is not a known key",
      }));
    }
    return [{ field: formatJsonPath(path) || root, message: issue.message }];
  });
}

/** The issue of a value that could not be copied as JSON data. */
export function dataIssue(path: JsonPath, message: string, root: string): FieldIssue {
  return { field: formatJsonPath(path) || root, message };
}
