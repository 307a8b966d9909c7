import { login, config } from '../api.js';
import { h, field, form } from '../dom.js';

export default async function signin(ctx) {
  const email = field({ label: 'E-mail', name: 'email', type: 'email', required: true, testid: 'signin-email', id: 'signin-email', attrs: { autocomplete: 'username' } });
  const password = field({ label: 'Password', name: 'password', type: 'password', required: true, testid: 'signin-password', id: 'signin-password', attrs: { autocomplete: 'current-password' } });
  const tenant = field({ label: 'Tenant id (optional)', name: 'tenant_id', testid: 'signin-tenant', id: 'signin-tenant', hint: 'Leave empty to sign in to your first tenant.' });
  const f = form({
    testid: 'signin-form',
    label: 'Sign in',
    onSubmit: async () => {
      await login(email.input.value.trim(), password.input.value, tenant.input.value.trim() || undefined);
      const next = ctx.query.next && ctx.query.next.startsWith('/') && !ctx.query.next.startsWith('/signin') ? ctx.query.next : '/overview';
      location.hash = `#${next}`;
    },
  },
  email, password,
  h('details', { class: 'advanced' }, h('summary', null, 'More options'), tenant),
  h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'signin-submit' }, 'Sign in')));
  const gh = config()?.github_login
    ? h('p', { class: 'alt-signin' }, h('a', { class: 'button secondary', href: '/auth/github?session=cookie', 'data-testid': 'signin-github' }, 'Sign in with GitHub'))
    : null;
  ctx.main.append(h('div', { class: 'signin card' }, h('h1', null, 'Sign in to FlukeBase Fleet'), f, gh));
}
