import { startPaymentGatewaySimulator } from '../../src/infra/simulators/payment-gateway-simulator';

/**
 * The payment gateway simulator in a process of its own, as a real gateway is: the benchmark's
 * worker does not pay for the gateway's side of each request on its own thread. Prints
 * `{"url","apiKey"}` on one line once listening; `stats` on stdin prints the simulator's counts;
 * exits when stdin closes.
 */
async function main(): Promise<void> {
  const latencyMs = Number(process.argv[2] ?? '0');
  const simulator = await startPaymentGatewaySimulator({ faults: { latencyMs } });
  process.stdout.write(`${JSON.stringify({ url: simulator.url, apiKey: simulator.apiKey })}\n`);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (text: string) => {
    if (text.includes('stats')) process.stdout.write(`${JSON.stringify(simulator.stats())}\n`);
  });
  process.stdin.on('end', () => {
    void simulator.close().then(() => process.exit(0));
  });
}

void main();
