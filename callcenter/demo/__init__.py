"""`callcenter demo` and the simulators: nothing in production imports this package.

- `run`: the walkthrough (migrate, sample data, every step, a summary);
  `steps`: the steps in order, one module each: `twilio`, `asterisk`,
  `callbacks`, `complaints`, `supervision`;
- `simulated_twilio`: a Twilio caller that signs its requests and follows the
  TwiML it gets, and a simulated carrier for the dispatcher;
  `simulated_asterisk`: Asterisk 22 channels speaking FastAGI over TCP (the
  tests' fake Asterisk);
- `serving`: the app on a real local port (`free_port`, `app_on_port`), for
  the demo, the tests and the benches.

An import contract (pyproject.toml) keeps the production packages from importing it.
"""
