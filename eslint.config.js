// Lint rules: typescript-eslint's type-aware recommended set; `any` is an error everywhere
// (domain code must stay typed), floating promises are errors (a lost promise loses an effect),
// and decimal.js is imported by core/money.ts only.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.cache/**', 'coverage/**', 'dist/**', 'console/dist/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // core/money.ts configures the one Decimal (100 digits, half-even, plain printing); a second
    // import of decimal.js would bring back its defaults, which round money to 20 digits.
    files: ['**/*.ts'],
    ignores: ['core/money.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'decimal.js', message: "Import Decimal from core/money.ts: it is the project's only configured Decimal." }] }],
    },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Hardhat 2 reads only a CommonJS config (stack/evm/hardhat.config.cjs).
    files: ['**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly' },
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
);
