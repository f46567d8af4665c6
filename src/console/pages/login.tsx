import { Layout } from "../layout";

/** The login form: the admin token is the only credential. Without one configured, the console is closed. */
export function LoginPage(props: { disabled: boolean; next: string; error?: string; loggedOut?: boolean }) {
  if (props.disabled) {
    return (
      <Layout title="Console disabled">
        <div class="login">
          <h1>The console is disabled</h1>
          <p class="notice" role="status">
            No <code>ADMIN_TOKEN</code> is configured, so nobody can sign in. Set it with{" "}
            <code>wrangler secret put ADMIN_TOKEN</code> (or in <code>.dev.vars</code> locally) to open the console and
            the admin API.
          </p>
        </div>
      </Layout>
    );
  }
  return (
    <Layout title="Sign in">
      <div class="login">
        <h1>Sign in to the console</h1>
        {props.loggedOut && (
          <p class="notice" role="status">
            You are signed out.
          </p>
        )}
        {props.error && (
          <p class="error" role="alert" id="token-error">
            {props.error}
          </p>
        )}
        <form method="post" action="/console/login">
          <input type="hidden" name="next" value={props.next} />
          <div class="field">
            <label for="token">Admin token</label>
            <input
              type="password"
              id="token"
              name="token"
              required
              autocomplete="current-password"
              spellcheck={false}
              aria-describedby={props.error ? "token-error token-hint" : "token-hint"}
              aria-invalid={props.error ? "true" : undefined}
            />
            <p class="hint" id="token-hint">
              The <code>ADMIN_TOKEN</code> of this service, the one the admin API takes as a bearer token.
            </p>
          </div>
          <button type="submit">Sign in</button>
        </form>
      </div>
    </Layout>
  );
}
