"""The Twilio channel: signed voice webhooks driving the hotline IVR.

- `webhooks`: the routes (`/twilio/voice`, `/twilio/gather`, `/twilio/record`,
  `/twilio/status`, `/twilio/dial-status`, `/twilio/callback-flow`);
- `signature`: every request checked with Twilio's `RequestValidator` against
  the public URL;
- `twiml`: action URLs (with the IVR state version) and the agent transfer
  target for `ivr.render_twiml`;
- `setup.setup(app)`: registered in `callcenter.features`.

The simulated Twilio caller and carrier (tests, demo, bench) are
`callcenter.demo.simulated_twilio`.
"""

from __future__ import annotations

from callcenter.telephony.twilio.webhooks import TwilioChannel, callback_flow_url

__all__ = ["TwilioChannel", "callback_flow_url"]
