#!/bin/sh
# Restart computation 981f5aa58738bfe0 from checkpoint generation 2.
# Written by the stasis coordinator on port 17801; arguments are passed to 'stasis restart'.
: "${STASIS_PORT:=17801}"
export STASIS_PORT
exec '/work/main/build/bin/stasis' restart "$@" \
'/tmp/tmp.oaIRFTBX9m/ck/ckpt_memhog_981f5aa58738bfe0_7476_g2.stasis'
