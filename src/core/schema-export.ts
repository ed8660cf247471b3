/**
 * Turns the TypeBox schemas into the plain JSON Schema the OpenAPI and AsyncAPI documents embed:
 * TypeBox's symbols and the validators' `errorMessage` annotations are dropped, and every named
 * schema (one with a `title`) is written once as a component and referred to by `$ref`.
 */
export class SchemaExporter {
  /** Component name by schema object (identity: two schemas may share a title only if one object). */
  private readonly names = new Map<object, string>();
  readonly components: Record<string, unknown> = {};

  /** `refBase`: "#/components/schemas/" in both documents. */
  constructor(private readonly refBase = "#/components/schemas/") {}

  export(schema: unknown, inline = false): unknown {
    if (Array.isArray(schema)) return schema.map((item) => this.export(item));
    if (typeof schema !== "object" || schema === null) return schema;
    const title = (schema as { title?: unknown }).title;
    if (!inline && typeof title === "string") {
      const known = this.names.get(schema);
      if (known !== undefined) return { $ref: this.refBase + known };
      let name = title;
      for (let n = 2; name in this.components; n++) name = `${title}${n}`;
      this.names.set(schema, name);
      this.components[name] = {}; // reserved before recursing, for schemas that contain themselves
      this.components[name] = this.export(schema, true);
      return { $ref: this.refBase + name };
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(schema)) {
      if (key === "errorMessage") continue;
      out[key] =
        key === "properties" || key === "patternProperties" ? this.exportMap(value) : this.export(value);
    }
    return out;
  }

  private exportMap(map: unknown): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(map as Record<string, unknown>)) out[key] = this.export(value);
    return out;
  }
}
