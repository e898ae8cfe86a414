/* tolerant3.c - tests/fmus/tolerant.c as an FMI 3.0 co-simulation FMU (tolerant3.xml): the
 * tolerance arrives through fmi3EnterInitializationMode. */
#define FMI_VERSION 3
#include "tolerant.c"
