import { api } from '../api.js';
import { h, field, form, confirmDialog, announce, problemText, alertBox } from '../dom.js';
import { pluginFieldset } from '../schemaform.js';

const LEVELS = ['minimal', 'standard', 'full'];

export default async function mcpTab(ctx) {
  const { panel, project } = ctx;
  const cfgPath = `/api/v1/projects/${encodeURIComponent(project.id)}/mcp_configuration`;
  const [plugins, config, presets] = await Promise.all([
    api('context', '/api/v1/mcp/plugins', { signal: ctx.signal }).then((p) => p.items || []),
    api('context', cfgPath, { signal: ctx.signal }),
    api('context', '/api/v1/mcp/presets', { query: { limit: 100 }, signal: ctx.signal }).then((p) => p.items || []).catch(() => null),
  ]);
  if (!ctx.isCurrent()) return;
  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'mcp-status' });
  const holder = h('div');
  panel.append(h('h2', null, 'MCP configuration'), status, holder);

  function build(cfg) {
    const level = field({ label: 'Context level', name: 'context_level', options: LEVELS.map((l) => [l, l]), value: cfg.context_level || 'standard', testid: 'mcp-context-level' });
    const enabled = new Set(cfg.enabled_plugins || []);
    const sets = plugins.map((p) => pluginFieldset(p, enabled.has(p.name), cfg.plugin_settings?.[p.name] || {}));
    // plugins the configuration names that the registry no longer has
    const unknown = [...enabled].filter((n) => !plugins.some((p) => p.name === n));
    const f = form({
      label: 'MCP configuration',
      testid: 'mcp-form',
      onSubmit: async () => {
        const on = sets.filter((s) => s.enable.checked);
        const body = { context_level: level.input.value, enabled_plugins: [...on.map((s) => s.name), ...unknown], plugin_settings: {} };
        sets.forEach((s) => s.enable.removeAttribute('data-field'));
        on.forEach((s, i) => s.enable.setAttribute('data-field', `enabled_plugins[${i}]`));
        for (const s of on) {
          const v = s.read();
          if (Object.keys(v).length) body.plugin_settings[s.name] = v;
        }
        const saved = await api('context', cfgPath, { method: 'PUT', body });
        status.textContent = 'Configuration saved.';
        announce('MCP configuration saved.');
        build(saved);
      },
    },
    cfg.preset ? h('p', { class: 'muted' }, `From preset ${cfg.preset} (saving makes it a configuration of its own).`) : null,
    level,
    unknown.length ? h('p', { class: 'notice' }, `Enabled but not in the registry: ${unknown.join(', ')}`) : null,
    sets.map((s) => s.el),
    h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'mcp-save' }, 'Save configuration')));
    holder.replaceChildren(f, presetsCard(sets, level));
  }

  function presetsCard(sets, level) {
    if (presets === null) return h('p', { class: 'muted' }, 'Presets are not available to this session.');
    const choose = field({ label: 'Preset', name: 'preset', options: [['', presets.length ? 'choose…' : 'no presets yet'], ...presets.map((p) => [p.id, p.name])], testid: 'mcp-preset' });
    const apply = h('button', { type: 'button', class: 'secondary', 'data-testid': 'mcp-apply-preset' }, 'Apply preset');
    apply.addEventListener('click', async () => {
      const id = choose.input.value;
      if (!id) return;
      const p = presets.find((x) => x.id === id);
      const { ok } = await confirmDialog({ title: `Apply ${p.name}?`, message: 'The project\'s MCP configuration is replaced by a copy of the preset.', confirmLabel: 'Apply', danger: false });
      if (!ok) return;
      try {
        const cfg = await api('context', `/api/v1/mcp/presets/${encodeURIComponent(id)}/apply`, { method: 'POST', body: { project_id: project.id } });
        status.textContent = `Preset ${p.name} applied.`;
        build(cfg);
      } catch (e) { status.textContent = problemText(e); }
    });
    const name = field({ label: 'New preset name', name: 'name', testid: 'mcp-preset-name' });
    const save = form({
      label: 'Save as preset',
      onSubmit: async () => {
        const on = sets.filter((s) => s.enable.checked);
        const body = { name: name.input.value.trim(), context_level: level.input.value, enabled_plugins: on.map((s) => s.name), plugin_settings: {} };
        for (const s of on) { const v = s.read(); if (Object.keys(v).length) body.plugin_settings[s.name] = v; }
        const p = await api('context', '/api/v1/mcp/presets', { method: 'POST', body });
        presets.push(p);
        status.textContent = `Preset ${p.name} saved.`;
        build(await api('context', cfgPath));
      },
    }, name, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'secondary' }, 'Save current form as preset')));
    return h('section', { class: 'card' }, h('h3', null, 'Presets'), h('div', { class: 'grid2' }, choose, h('div', { class: 'actions end' }, apply)), save);
  }

  try { build(config); } catch (e) { panel.append(alertBox(e)); }
}
