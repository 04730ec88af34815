/*
 * ports.h - a loopback TCP port for a test to hand to a program it starts.
 */
#ifndef AIOS_TEST_PORTS_H
#define AIOS_TEST_PORTS_H

/*
 * A port nobody listens on right now, below the kernel's ephemeral range (32768 and
 * up by default). A port the kernel handed out with bind(0) and the test released can
 * be taken as the local port of any outgoing connection before the program binds it
 * (seen as "Address already in use" when ctest runs tests in parallel); a random port
 * in [20000, 32000), probed with bind, can only collide with another test picking the
 * same port in the same moment. Aborts the test when none is free.
 */
int aios_test_free_port(void);

#endif
