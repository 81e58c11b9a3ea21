import { DomainError } from '../../src/domain/shared/errors';

/**
 * Given/when/then for pure deciders: given the events already in a stream, when a command is
 * decided in a context, then exactly these events are returned, or the command is refused with
 * this error code. Assertions are on events and error codes only, never on mocks.
 *
 *   const member = deciderSpec({ initialState, evolve, decide });
 *   member.given([enrolled]).when({ type: 'CheckIn' }, ctx).then([checkedIn, granted]);
 *   member.given([]).when({ type: 'CheckIn' }, ctx).thenFails('MEMBER.NOT_FOUND');
 */
export interface Decider<State, Command, Event, Ctx> {
  initialState: State;
  evolve(state: State, event: Event): State;
  decide(state: State, command: Command, ctx: Ctx): Event[];
}

export interface When<State, Event> {
  /** Asserts the decided events equal `expected` (asymmetric matchers such as expect.objectContaining work) and returns them. */
  then(expected: Event[]): Event[];
  /** Asserts the command is refused with a DomainError of this code (and, if given, these details); returns the error. */
  thenFails(code: string, details?: Record<string, unknown>): DomainError;
  /** Decides and returns the events and the state after them, for assertions a list of events cannot express. */
  result(): { events: Event[]; state: State };
}

export interface Given<State, Command, Event, Ctx> {
  when(command: Command, ctx: Ctx): When<State, Event>;
  /** The state the given events fold to. */
  state(): State;
}

export function deciderSpec<State, Command, Event, Ctx>(
  decider: Decider<State, Command, Event, Ctx>,
): { given(events: Event[]): Given<State, Command, Event, Ctx> } {
  return {
    given(events) {
      const state = (): State => events.reduce(decider.evolve, decider.initialState);
      return {
        state,
        when(command, ctx) {
          const decide = (): Event[] => decider.decide(state(), command, ctx);
          return {
            then(expected) {
              const events = decide();
              expect(events).toEqual(expected);
              return events;
            },
            thenFails(code, details) {
              let caught: unknown;
              let events: Event[] | undefined;
              try {
                events = decide();
              } catch (error) {
                caught = error;
              }
              if (caught === undefined) throw new Error(`expected ${code}, but the command was accepted with ${JSON.stringify(events)}`);
              if (!(caught instanceof DomainError)) throw caught; // A programmer error, not a refusal: show it as it is.
              expect(caught.code).toBe(code);
              if (details) expect(caught.details).toEqual(details);
              return caught;
            },
            result() {
              const events = decide();
              return { events, state: events.reduce(decider.evolve, state()) };
            },
          };
        },
      };
    },
  };
}

/**
 * The same given/when/then for contexts written as one function per command (benefits): the
 * command is a function of the state, so a spec names the decider function it exercises.
 *
 *   const programme = commandSpec(initialProgrammeState, evolveProgramme);
 *   programme.given([opened]).when((state) => fundBudget(state, funding)).then([funded]);
 */
export function commandSpec<State, Event>(
  initialState: State,
  evolve: (state: State, event: Event) => State,
): { given(events: Event[]): Given<State, (state: State) => Event[], Event, void> } {
  return deciderSpec<State, (state: State) => Event[], Event, void>({ initialState, evolve, decide: (state, command) => command(state) });
}
