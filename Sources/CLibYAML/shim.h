#ifndef MIZZEN_CLIBYAML_SHIM_H
#define MIZZEN_CLIBYAML_SHIM_H
#include <yaml.h>
#endif
