/* badabi: a plugin built for another plugin ABI (test_plugins.py). */
#include <stasis/plugin.h>

const struct stasis_plugin stasis_plugin = {
    .abi = STASIS_PLUGIN_ABI + 1,
    .name = "badabi",
};
