import { Tokenizer } from '@huggingface/tokenizers';

/** What encoding a prompt gives: fixed-length ids, and the words the vocabulary does not know. */
export interface EncodedPrompt {
  readonly ids: BigInt64Array;
  readonly unknownWords: string[];
  /** Words cut off past the model's max length. */
  readonly truncatedWords: string[];
}

/**
 * The pack's word-level tokenizer (a Hugging Face `tokenizer.json`), with the padding and unknown-word
 * rules of the manifest applied here: the JS tokenizer library leaves unknown words as `null` ids and does
 * not pad, while the model was trained on `[UNK]` ids and right padding to `max_length`.
 */
export class PromptTokenizer {
  readonly #tokenizer: Tokenizer;

  constructor(
    tokenizerJson: object,
    private readonly maxLength: number,
    private readonly padId: number,
    private readonly unkId: number,
  ) {
    this.#tokenizer = new Tokenizer(tokenizerJson, {});
  }

  encode(text: string): EncodedPrompt {
    const encoding = this.#tokenizer.encode(text) as { ids: Array<number | null | undefined>; tokens: string[] };
    const ids = new BigInt64Array(this.maxLength).fill(BigInt(this.padId));
    const unknownWords: string[] = [];
    encoding.ids.forEach((id, i) => {
      const known = typeof id === 'number' && id !== this.unkId;
      if (!known) unknownWords.push(encoding.tokens[i] ?? '?');
      if (i < this.maxLength) ids[i] = BigInt(known ? id : this.unkId);
    });
    return { ids, unknownWords: [...new Set(unknownWords)], truncatedWords: encoding.tokens.slice(this.maxLength) };
  }
}
