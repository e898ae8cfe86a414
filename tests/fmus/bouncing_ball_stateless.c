/* bouncing_ball_stateless.c - tests/fmus/bouncing_ball.c declared without canGetAndSetFMUstate
 * (bouncing_ball_stateless.xml): the FMU-backed EKF cannot run a step across an impact twice. */
#include "bouncing_ball.c"
