// The payment consumer's and dead-letter tools' contracts (services `payment-consumer`, `dead-letters`).

export interface ConsumerStatus {
  consumed: number;
  deadLettered: number;
  ignored: number;
  lag: number;
}

export interface DeadLetterView {
  partition: number;
  offset: string;
  key: string | null;
  reason?: string;
  source: string;
  value: string;
}

export interface ReplayParams {
  partition: number;
  offset: string;
}
