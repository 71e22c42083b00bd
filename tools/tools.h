/* Tools for trying and testing custos, run as subcommands of the one binary:
 * the embedded Kafka-protocol broker, the paced producer and the demo
 * traffic generator. (The labelled scenario generator and its scorer are
 * separate executables: tools/scenarios/.) Each takes the subcommand's
 * argv and returns its exit code (core/cli.h). */
#ifndef TOOLS_TOOLS_H
#define TOOLS_TOOLS_H

/* custos broker: librdkafka's mock cluster on loopback. */
int tools_cmd_broker(int argc, char **argv);
/* custos produce: paced JSON-lines producer. */
int tools_cmd_produce(int argc, char **argv);
/* custos gen: demo traffic as JSON lines. */
int tools_cmd_gen(int argc, char **argv);

#endif
