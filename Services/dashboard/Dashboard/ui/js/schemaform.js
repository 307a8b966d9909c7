// Form controls generated from a plugin's settings_schema (the JSON Schema subset context-api
// checks): string, integer, number, boolean, enum, array of strings; anything else as JSON.
import { h, field, uid } from './dom.js';

/** What kind of control a property schema gets. */
export function kindOf(s) {
  if (!s || typeof s !== 'object') return 'json';
  if (Array.isArray(s.enum)) return 'enum';
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
  if (t === 'string' || t === 'integer' || t === 'number' || t === 'boolean') return t;
  if (t === 'array' && (s.items?.type === 'string' || (s.items && Array.isArray(s.items.enum)))) return 'strings';
  return 'json';
}

/** The raw text of a control → the value sent (undefined: left out). */
export function parseValue(kind, raw) {
  if (kind === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : undefined;
  if (raw === undefined || raw === null) return undefined;
  const text = String(raw);
  if (kind === 'strings') {
    const items = text.split('\n').map((x) => x.trim()).filter(Boolean);
    return items.length ? items : undefined;
  }
  if (text.trim() === '') return undefined;
  if (kind === 'integer' || kind === 'number') {
    const n = Number(text.trim());
    return Number.isFinite(n) ? n : text; // the server names what is wrong
  }
  if (kind === 'enum') {
    try { return JSON.parse(text); } catch { return text; }
  }
  if (kind === 'json') {
    try { return JSON.parse(text); } catch { return text; }
  }
  return text;
}

/** A value → the text its control shows. */
export function formatValue(kind, value) {
  if (value === undefined || value === null) return '';
  if (kind === 'boolean') return value === true ? 'true' : value === false ? 'false' : '';
  if (kind === 'strings') return Array.isArray(value) ? value.join('\n') : String(value);
  if (kind === 'enum') return JSON.stringify(value);
  if (kind === 'json') return JSON.stringify(value, null, 2);
  return String(value);
}

function describe(s, required) {
  const bits = [];
  if (s.description) bits.push(s.description);
  if (required) bits.push('required');
  if (s.minimum !== undefined) bits.push(`at least ${s.minimum}`);
  if (s.maximum !== undefined) bits.push(`at most ${s.maximum}`);
  if (s.minLength !== undefined) bits.push(`${s.minLength}+ characters`);
  if (s.maxLength !== undefined) bits.push(`up to ${s.maxLength} characters`);
  if (s.maxItems !== undefined) bits.push(`up to ${s.maxItems} items, one per line`);
  else if (kindOf(s) === 'strings') bits.push('one per line');
  return bits.join('; ') || null;
}

/**
 * Controls for one plugin's settings. Returns {fields: [elements], read() → settings object}.
 * Each control's data-field is `<prefix>.<property>` (e.g. plugin_settings.github.repos).
 */
export function settingsFields(prefix, schema, values = {}) {
  const props = schema?.properties || {};
  const required = new Set(schema?.required || []);
  const controls = [];
  for (const [name, s] of Object.entries(props)) {
    const kind = kindOf(s);
    const path = `${prefix}.${name}`;
    const id = uid('set');
    const common = { label: name + (required.has(name) ? ' *' : ''), id, field: path, name: path, hint: describe(s, required.has(name)), testid: 'mcp-setting', value: formatValue(kind, values?.[name]) };
    let el;
    if (kind === 'boolean') el = field({ ...common, options: [['', '(default)'], ['true', 'true'], ['false', 'false']] });
    else if (kind === 'enum') el = field({ ...common, options: [['', '(default)'], ...s.enum.map((v) => [JSON.stringify(v), String(v)])] });
    else if (kind === 'integer' || kind === 'number') el = field({ ...common, type: 'number', attrs: { step: kind === 'integer' ? '1' : 'any', inputmode: kind === 'integer' ? 'numeric' : 'decimal' } });
    else if (kind === 'strings') el = field({ ...common, textarea: true, rows: 3 });
    else if (kind === 'json') el = field({ ...common, textarea: true, rows: 3, hint: `${common.hint ? `${common.hint}; ` : ''}JSON` });
    else el = field({ ...common, attrs: s.maxLength ? { maxlength: String(s.maxLength * 4) } : undefined });
    controls.push({ name, kind, el });
  }
  return {
    fields: controls.map((c) => c.el),
    read() {
      const out = {};
      for (const c of controls) {
        const v = parseValue(c.kind, c.el.input.value);
        if (v !== undefined) out[c.name] = v;
      }
      // keep settings the schema does not describe (so a save never loses them)
      for (const [k, v] of Object.entries(values || {})) if (!(k in props) && !(k in out)) out[k] = v;
      return out;
    },
    empty: controls.length === 0,
  };
}

export function pluginFieldset(plugin, enabled, values, testid = 'mcp-plugin') {
  const prefix = `plugin_settings.${plugin.name}`;
  const sf = settingsFields(prefix, plugin.settings_schema, values);
  const enable = field({ label: `Enable ${plugin.name}`, type: 'checkbox', value: enabled, testid: 'mcp-enable', id: uid('enable'), attrs: { 'data-plugin': plugin.name } });
  const fs = h('fieldset', { class: 'plugin', 'data-testid': testid, dataset: { plugin: plugin.name } },
    h('legend', null, plugin.name),
    plugin.description ? h('p', { class: 'muted' }, plugin.description) : null,
    enable,
    sf.empty ? h('p', { class: 'muted small' }, 'No settings.') : h('div', { class: 'settings', 'data-field': prefix }, sf.fields));
  return { el: fs, enable: enable.input, read: sf.read, name: plugin.name };
}
