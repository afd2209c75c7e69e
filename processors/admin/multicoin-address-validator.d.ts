// The package ships no types; only the call this project makes is declared.
declare module 'multicoin-address-validator' {
  interface ValidateOptions {
    networkType?: 'prod' | 'testnet' | 'both';
  }
  interface MulticoinAddressValidator {
    validate(address: string, currencyNameOrSymbol: string, options?: ValidateOptions): boolean;
  }
  const validator: MulticoinAddressValidator;
  export default validator;
}
