"""Telephony adapters: Asterisk (AGI, AMI) and Twilio."""
