// The size of one PaymentReceived on the wire (Confluent framing: magic byte and 4-byte schema id,
// then the Avro body), so Kafka's ProducerPerformance baseline moves records of the same size as
// the pipeline does.
import { encodeAvroValue } from '../../schemas/avro-codec.ts';
import { valueTypeOf } from '../../schemas/value-types.ts';
import { paymentReceivedRecord } from '../../test/support/payment-record.ts';
import { uniqueClientId, uniquePaymentId } from '../../test/support/ipn.ts';

const confluentFramingBytes = 5;

export function paymentRecordBytes(): number {
  const record = paymentReceivedRecord(uniquePaymentId(), uniqueClientId());
  return encodeAvroValue(valueTypeOf('payment-received'), record, 'payment-received').length + confluentFramingBytes;
}
