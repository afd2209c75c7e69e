// The test stack listens on its own ports and keeps its data in its own directory, so the tests
// can run while `npm start` is up on the default ports.
export const testPorts = {
  KAFKA_PORT: '29092',
  KAFKA_CONTROLLER_PORT: '29093',
  SCHEMA_REGISTRY_PORT: '28081',
  POSTGRES_PORT: '25432',
  KAFKA_UI_PORT: '28088',
} as const;

export function testStackEnvironment(environment: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...testPorts,
    STACK_DATA_DIR: '.cache/test-stack',
    ...environment,
    NOWPAYMENTS_IPN_SECRET: environment['NOWPAYMENTS_IPN_SECRET'] ?? 'test-ipn-secret-0123456789',
  };
}
