// ---- sign-in ----

function pageSignin(main) {
  document.body.dataset.page = 'signin';
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'signin', id: 'signin-form' },
    h('h1', {}, 'Sign in to custos'),
    h('label', { class: 'field' }, h('span', {}, 'User name'),
      h('input', { name: 'username', id: 'username', autocomplete: 'username', required: true })),
    h('label', { class: 'field' }, h('span', {}, 'Password'),
      h('input', { name: 'password', id: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    err,
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const btn = form.querySelector('button');
    btn.disabled = true;
    try {
      const s = await api('POST', '/api/v1/session',
        { username: form.elements.username.value, password: form.elements.password.value });
      Object.assign(me, { user: s.user, role: s.role, csrf: s.csrf_token });
      localStorage.setItem(SIGNED_IN, '1');
      form.elements.password.value = '';
      const next = new URLSearchParams(location.search).get('next');
      go(next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/signin') ? next : '/', true);
    } catch (e) {
      err.textContent = e.status === 401 ? 'Wrong user name or password.'
        : e.status === 429 ? 'Too many failed attempts: wait a moment and try again.'
          : e.status === 0 ? 'The custos server cannot be reached.' : e.message;
      err.hidden = false;
      btn.disabled = false;
    }
  });
  main.replaceChildren(h('div', { class: 'signin-wrap' }, form));
  form.elements.username.focus();
}
